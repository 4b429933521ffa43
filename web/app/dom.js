// The one helper the views share to build their tables and lists.

/// A new `tag` element with `text` (as text, never markup) and an optional class.
export function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}
