// The talent app's API client, navigation, and the clean-up of timers when a page is left.
import { Api } from "../common/api.js";

export const api = new Api("talent.app.tokens");

/** Show another page (re-render when it is the current one). */
export function go(path) {
  if (location.hash === `#/${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = `#/${path}`;
}

const cleanups = [];

/** Run fn when the current page is left (timers, blob URLs). */
export function onLeave(fn) {
  cleanups.push(fn);
}

export function leave() {
  while (cleanups.length) cleanups.pop()();
}
