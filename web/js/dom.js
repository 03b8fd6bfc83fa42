// A tiny DOM builder. Text always goes in as text nodes, never as HTML: names and notes come
// from other users.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replaceChildren(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function field({ label, name, type = "text", hint, ...attributes }) {
  const id = `field-${name}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = `${id}-error`;
  const input = h("input", { id, name, type, "aria-describedby": [hintId, errorId].filter(Boolean).join(" "), ...attributes });
  const error = h("span", { id: errorId, class: "hint field-error", role: "alert" });
  const wrapper = h("label", { for: id }, label, hint ? h("span", { id: hintId, class: "hint" }, hint) : null, input, error);
  return { wrapper, input, error };
}

let toastTimer;
export function toast(message) {
  const element = document.getElementById("toast");
  element.textContent = message;
  element.classList.add("visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => element.classList.remove("visible"), 3500);
}
