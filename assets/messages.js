// What the page says, and does, for each `error` code the server sends (docs/protocol.md).
// `then`: "leave"  — back to the join form (the person decides what next);
//         "rejoin" — close the connection and join again with backoff (after the attempts run
//                    out: "Connection failed" with a Try again button);
//         "notice" — stay in the call; the message can be dismissed.
// tests/browser-messages.rs reads this table as JSON and fails if a code of the server's
// `ErrorCode` enum is missing, so keep it strict JSON between the braces.
export const SERVER_ERRORS = {
  "bad_json": { "then": "notice", "text": "The server could not read a message from this page. Reloading the page may help." },
  "unknown_type": { "then": "notice", "text": "The server does not know a message this page sent. Reloading the page may help." },
  "invalid_message": { "then": "notice", "text": "The server refused a message from this page. Reloading the page may help." },
  "not_joined": { "then": "rejoin", "text": "The server had lost this page's place in the room." },
  "already_joined": { "then": "rejoin", "text": "The server saw this page join twice." },
  "invalid_room": { "then": "leave", "text": "That room name cannot be used: use 1–64 letters, digits, \"_\" or \"-\"." },
  "invalid_name": { "then": "leave", "text": "Please use a name of 1–64 characters." },
  "invalid_sdp": { "then": "rejoin", "text": "The server refused your browser's media setup." },
  "invalid_candidate": { "then": "notice", "text": "The server could not use one of your browser's network addresses; others may still work." },
  "message_too_large": { "then": "notice", "text": "A message from this page was too large for the server." },
  "media_error": { "then": "rejoin", "text": "The media connection to the server failed." },
  "media_timeout": { "then": "rejoin", "text": "No media connection to the server was made in time." },
  "kicked": { "then": "leave", "text": "An administrator removed you from the room." },
  "room_closed": { "then": "leave", "text": "An administrator closed the room." },
  "layout_locked": { "then": "notice", "text": "An administrator has locked this room's layout." },
  "invalid_layout": { "then": "notice", "text": "That layout cannot be used." },
  "rate_limited": { "then": "notice", "text": "Too many changes at once: wait a moment and try again." },
  "server_shutdown": { "then": "rejoin", "text": "The server is restarting." },
  "internal_error": { "then": "rejoin", "text": "The server had a problem setting up your connection." },
  "unauthorized": { "then": "leave", "text": "This link's access token is missing, expired or not valid: ask for a new link." },
  "forbidden": { "then": "leave", "text": "This link does not let you join this room that way (another room, or watching only)." },
  "server_full": { "then": "leave", "text": "The server has as many rooms as it can take: try again later." },
  "room_full": { "then": "leave", "text": "This room is full: try again later." },
  "join_timeout": { "then": "rejoin", "text": "Joining took too long." },
  "layout_forbidden": { "then": "notice", "text": "Only the host can change this room's layout." },
  "fleet_unavailable": { "then": "rejoin", "text": "The servers cannot place this room right now; trying again." },
  "invalid_rate": { "then": "leave", "text": "An agent asked for an audio sample rate the server does not offer." },
  "invalid_audio_frame": { "then": "notice", "text": "An audio frame was not 20 ms of 16-bit mono sound." },
  "agent_audio_overflow": { "then": "notice", "text": "Too much audio was sent ahead of time, so some was dropped." },
  "expected_binary": { "then": "notice", "text": "An image was announced but text came instead." },
  "invalid_image": { "then": "notice", "text": "The image could not be shown: it is not a JPEG or PNG, or it is too large." }
};

// The entry for `code`; a code this page does not know yet (a newer server) is a notice with
// the server's own wording.
export function serverError(code, message) {
  return SERVER_ERRORS[code] ?? { then: 'notice', text: `The server reported a problem: ${message}` };
}
