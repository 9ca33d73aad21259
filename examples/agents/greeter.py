#!/usr/bin/env python3
"""Greeter: an agent that welcomes everyone who joins, out loud (espeak-ng) and as a caption,
and answers "what time is it" typed in the chat.

    .venv/bin/python examples/agents/greeter.py --server 127.0.0.1:8080 --room lobby

Runs offline: text to speech is espeak-ng (Debian package), the rest is the standard library
and `websockets`. See docs/agents.md.
"""

import argparse
import asyncio
import datetime
import json

from agentlib import connect, frames, messages, speak

RATE = 16000


async def greet(ws, name):
    text = f"Hello {name}, welcome to the room!"
    pcm = await asyncio.to_thread(speak, text, RATE)
    await ws.send(json.dumps({"type": "caption", "text": text, "final": True}))
    # Sent as fast as the socket takes it: the server queues up to 10 s and plays it in real time.
    for frame in frames(pcm, RATE):
        await ws.send(frame)


async def run(server, room, name, token=None):
    ws, first = await connect(server, room, name, RATE, token)
    async with ws:
        me = None
        async for msg in messages(ws, first):
            if isinstance(msg, bytes):
                continue  # the room's audio: a greeter does not listen
            m = json.loads(msg)
            kind = m["type"]
            if kind == "joined":
                me = m["participantId"]
                print(f"greeter joined {m['room']} as {me}", flush=True)
            elif kind == "participantJoined" and m["participant"]["role"] != "agent":
                await greet(ws, m["participant"]["name"])
            elif kind == "chat" and m["from"] != me and "what time is it" in m["text"].lower():
                now = datetime.datetime.now().strftime("%H:%M")
                await ws.send(json.dumps({"type": "chat", "text": f"{m['name']}, it is {now}."}))
            elif kind == "error":
                print(f"server: {m['code']}: {m['message']}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="127.0.0.1:8080", help="host:port of the Tessera server")
    p.add_argument("--room", default="lobby")
    p.add_argument("--name", default="Greeter")
    p.add_argument("--token", help="access token, where the server requires them")
    a = p.parse_args()
    asyncio.run(run(a.server, a.room, a.name, a.token))


if __name__ == "__main__":
    main()
