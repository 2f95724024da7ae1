// Small DOM helpers. Every piece of data reaches the page through textContent, an input's
// value or an attribute, never as HTML (the CSP's Trusted Types rule makes any HTML sink
// throw anyway): `el` is the only way the page builds elements.

export const $ = (id) => document.getElementById(id);

export function el(tag, props, children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [name, value] of Object.entries(props)) {
      if (name === 'text') node.textContent = value;
      else if (name === 'class') node.className = value;
      else node.setAttribute(name, value);
    }
  }
  for (const child of children || []) node.append(child);
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

export function setMessage(node, text) {
  node.textContent = text || '';
  show(node, Boolean(text));
}

// Copies a secret shown once from its read-only input, saying how in `status`. Without the
// clipboard permission it selects the text instead, so that Ctrl+C / long-press copies it.
export async function copyFrom(input, status) {
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied to the clipboard.';
  } catch (err) {
    input.focus();
    input.select();
    status.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
  }
}

// Marks an input as the one a message in `box` is about, and moves focus to it.
export function invalid(input, box, message) {
  setMessage(box, message);
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}
