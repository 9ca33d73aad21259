#!/usr/bin/env python3
"""Note-taker: an agent that writes down who spoke when (from the room's speakerChanged events
and the level of what it hears) and posts a summary line in the chat when the last person who
can talk has left.

    .venv/bin/python examples/agents/notetaker.py --server 127.0.0.1:8080 --room lobby --out notes.txt

Standard library and `websockets` only. See docs/agents.md.
"""

import argparse
import asyncio
import datetime
import json

from agentlib import FRAME_MS, connect, level_db, messages

RATE = 16000
# What it hears louder than this counts as speech.
SPEECH_DB = -45.0


class Notes:
    def __init__(self, out):
        self.out = out
        self.names = {}  # id -> name
        self.roles = {}  # id -> role
        self.speaker = None
        self.spoken = {}  # name -> seconds
        self.start = datetime.datetime.now()

    def write(self, line):
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {line}\n")

    def heard(self, frame):
        # A frame is 20 ms of everyone but us: credit it to the active speaker when it is speech.
        if self.speaker in self.names and level_db(frame) > SPEECH_DB:
            name = self.names[self.speaker]
            self.spoken[name] = self.spoken.get(name, 0.0) + FRAME_MS / 1000

    def talkers_left(self, me):
        return [p for p, role in self.roles.items() if p != me and role in ("publisher", "agent")]

    def summary(self):
        secs = (datetime.datetime.now() - self.start).total_seconds()
        parts = ", ".join(f"{n} spoke {t:.1f} s" for n, t in sorted(self.spoken.items(), key=lambda kv: -kv[1]))
        return f"Notes: {parts or 'nobody spoke'} ({len(self.spoken)} speakers in {secs:.0f} s)."


async def run(server, room, name, out, token=None):
    notes = Notes(out)
    ws, first = await connect(server, room, name, RATE, token)
    async with ws:
        me = None
        async for msg in messages(ws, first):
            if isinstance(msg, bytes):
                notes.heard(msg)
                continue
            m = json.loads(msg)
            kind = m["type"]
            if kind == "joined":
                me = m["participantId"]
                for p in m["participants"]:
                    notes.names[p["id"]], notes.roles[p["id"]] = p["name"], p["role"]
                notes.write(f"notes start in room {m['room']}")
            elif kind == "participantJoined":
                p = m["participant"]
                notes.names[p["id"]], notes.roles[p["id"]] = p["name"], p["role"]
                notes.write(f"{p['name']} joined")
            elif kind == "participantLeft":
                who = m["participantId"]
                notes.write(f"{notes.names.get(who, who)} left")
                had_talkers = bool(notes.talkers_left(me))
                notes.roles.pop(who, None)
                if had_talkers and not notes.talkers_left(me):
                    summary = notes.summary()
                    notes.write(summary)
                    await ws.send(json.dumps({"type": "chat", "text": summary}))
            elif kind == "speakerChanged":
                notes.speaker = m["participantId"]
                if notes.speaker:
                    notes.write(f"{notes.names.get(notes.speaker, notes.speaker)} speaks")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="127.0.0.1:8080", help="host:port of the Tessera server")
    p.add_argument("--room", default="lobby")
    p.add_argument("--name", default="Notes")
    p.add_argument("--out", default="notes.txt", help="file the notes are appended to")
    p.add_argument("--token", help="access token, where the server requires them")
    a = p.parse_args()
    asyncio.run(run(a.server, a.room, a.name, a.out, a.token))


if __name__ == "__main__":
    main()
