"""How an aiortc peer negotiates with Tessera, one class per way.

Each signaling has `negotiate(pc, attach)`, which ends with the peer connection's descriptions
set (`attach(pc)` adds the local tracks at the point its flow needs them), and `close()`. On
`/ws` the server offers and candidates trickle both ways; over WHIP and WHEP (RFC 9725) the
client offers, with every candidate inside, by one HTTP POST, and leaves by DELETE.
"""

import asyncio
import json

import aiohttp
import yarl
from aiortc import RTCSessionDescription
from aiortc.sdp import candidate_from_sdp


class SignalingError(Exception):
    """The server refused us or went away during negotiation."""


class WsSignaling:
    """Tessera's `/ws` JSON protocol (docs/protocol.md): join, answer the server's offer,
    trickle ICE both ways."""

    def __init__(self, server, room, name, role):
        self._url = f"ws://{server}/ws"
        self._join = {"type": "join", "room": room, "name": name, "role": role}
        self._http = None
        self._ws = None
        self._reader = None
        self.messages = []  # every server message after the offer, for the report

    async def negotiate(self, pc, attach):
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self._url)
        await self._send(self._join)
        joined = await self._next()
        if joined.get("type") != "joined":
            raise SignalingError(f"join refused: {joined}")
        offer = await self._next_of("offer")
        # Candidates that arrive from now on are added as they come.
        self._reader = asyncio.create_task(self._read(pc))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        attach(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        # aiortc does not trickle: its answer already lists every local candidate.
        await self._send({"type": "answer", "sdp": pc.localDescription.sdp})

    async def close(self):
        if self._ws is not None and not self._ws.closed:
            await self._send({"type": "leave"})
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._http is not None:
            await self._http.close()

    async def _read(self, pc):
        while True:
            message = await self._next()
            if message.get("type") != "ice":
                self.messages.append(message)
                continue
            if not message["candidate"]:
                await pc.addIceCandidate(None)
                continue
            candidate = candidate_from_sdp(message["candidate"].removeprefix("candidate:"))
            # aiortc finds a candidate's transport by sdpMid only.
            candidate.sdpMid = message.get("sdpMid")
            candidate.sdpMLineIndex = message.get("sdpMLineIndex")
            await pc.addIceCandidate(candidate)

    async def _send(self, message):
        await self._ws.send_str(json.dumps(message))

    async def _next(self):
        frame = await self._ws.receive()
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise SignalingError(f"connection ended: {frame.type.name}")
        return json.loads(frame.data)

    async def _next_of(self, kind):
        while True:
            message = await self._next()
            if message.get("type") == kind:
                return message
            if message.get("type") == "error":
                raise SignalingError(f"server error: {message}")


class HttpSignaling:
    """WHIP (publish) or WHEP (watch): POST our offer to `/{kind}/{room}`, take the `201`
    answer, DELETE the session's `Location` on close. No PATCH: aiortc gathers every candidate
    before `setLocalDescription` returns, so the offer already holds them all, and the server's
    answer holds all of its own."""

    kind = None  # "whip" or "whep"

    def __init__(self, server, room, name, role):
        self._base = f"http://{server}"
        self._path = f"/{self.kind}/{room}"
        self._name = name
        self._http = None
        self.location = None  # the session's URL once the server created it

    def prepare(self, pc, attach):
        """Adds what the offer must hold (the subclass knows which direction)."""
        raise NotImplementedError

    async def negotiate(self, pc, attach):
        self._http = aiohttp.ClientSession()
        self.prepare(pc, attach)
        await pc.setLocalDescription(await pc.createOffer())
        url = self._base + self._path
        headers = {"Content-Type": "application/sdp"}
        async with self._http.post(url, params={"name": self._name}, data=pc.localDescription.sdp, headers=headers) as r:
            body = await r.text()
            if r.status != 201:
                raise SignalingError(f"{self.kind.upper()} POST answered {r.status}: {body}")
            location = r.headers.get("Location")
            if not location:
                raise SignalingError(f"{self.kind.upper()} POST answered 201 without a Location")
            self.location = str(r.url.join(yarl.URL(location)))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))

    async def close(self):
        if self._http is None:
            return
        try:
            if self.location is not None:
                async with self._http.delete(self.location) as r:
                    if r.status not in (200, 204):
                        raise SignalingError(f"DELETE {self.location} answered {r.status}")
        finally:
            await self._http.close()


class WhipSignaling(HttpSignaling):
    """WHIP: the tracks go out, nothing is expected back (the server answers recvonly)."""

    kind = "whip"

    def prepare(self, pc, attach):
        attach(pc)
        for transceiver in pc.getTransceivers():
            transceiver.direction = "sendonly"


class WhepSignaling(HttpSignaling):
    """WHEP: receive-only video and audio (the composite and the mix); `attach` adds nothing
    for a viewer."""

    kind = "whep"

    def prepare(self, pc, attach):
        attach(pc)
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")


SIGNALINGS = {"ws": WsSignaling, "whip": WhipSignaling, "whep": WhepSignaling}

__all__ = ["SIGNALINGS", "SignalingError", "WhepSignaling", "WhipSignaling", "WsSignaling"]
