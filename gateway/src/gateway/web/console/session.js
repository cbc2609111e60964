// The console's API client and navigation, shared by its pages.
import { Api } from "../common/api.js";

export const api = new Api("talent.console.tokens");

/** Show another page (re-render when it is the current one). */
export function go(path) {
  if (location.hash === `#/${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = `#/${path}`;
}
