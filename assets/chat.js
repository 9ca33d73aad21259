// Chat and captions: chat lines in the side panel, captions over the video. A participant's
// partial caption is replaced by their next one until a final one, which fades after a while.

const $ = (id) => document.getElementById(id);
/// How long a final caption stays on screen.
const CAPTION_MS = 6000;
/// Chat lines kept in the panel.
const MAX_LINES = 200;

const captions = new Map(); // participant id -> { el, timer }

function line(name, text) {
  const li = document.createElement('li');
  const who = document.createElement('b');
  who.textContent = `${name}:`;
  li.append(who, document.createTextNode(text));
  return li;
}

export function showChat({ name, text }) {
  const list = $('chat');
  list.append(line(name, text));
  while (list.children.length > MAX_LINES) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

export function showCaption({ from, name, text, final }) {
  let shown = captions.get(from);
  if (!shown) {
    shown = { el: document.createElement('p'), timer: 0 };
    captions.set(from, shown);
    $('captions').append(shown.el);
  }
  clearTimeout(shown.timer);
  const who = document.createElement('b');
  who.textContent = name;
  shown.el.replaceChildren(who, document.createTextNode(text));
  shown.el.classList.toggle('partial', !final);
  if (final) {
    shown.timer = setTimeout(() => {
      shown.el.remove();
      captions.delete(from);
    }, CAPTION_MS);
  }
}

export function clearChat() {
  $('chat').replaceChildren();
  $('captions').replaceChildren();
  for (const { timer } of captions.values()) clearTimeout(timer);
  captions.clear();
}

/// Sends what is typed in the chat box through `send(text)`.
export function wireChatForm(send) {
  $('chat-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('chat-text').value.trim();
    if (!text) return;
    send(text);
    $('chat-text').value = '';
  });
}
