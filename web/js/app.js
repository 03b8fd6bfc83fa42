// VaultPay's dashboard: a small hash-routed app, no build step, no dependencies.
import { isLoggedIn, logout, onSessionEnd, restoreSession } from "./api.js";
import { loginView, registerView } from "./views/auth.js";
import { borrowView } from "./views/borrow.js";
import { dashboardView } from "./views/dashboard.js";
import { lendView } from "./views/lend.js";
import { loansView } from "./views/loans.js";
import { profileView } from "./views/profile.js";
import { sendView } from "./views/send.js";

const ROUTES = {
  login: { view: loginView, title: "Log in", public: true },
  register: { view: registerView, title: "Create an account", public: true },
  dashboard: { view: dashboardView, title: "Dashboard" },
  send: { view: sendView, title: "Send money" },
  borrow: { view: borrowView, title: "Borrow" },
  lend: { view: lendView, title: "Lend" },
  loans: { view: loansView, title: "Loans" },
  profile: { view: profileView, title: "Profile" },
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let cleanup = null;
let firstRender = true;

// After a route change, focus goes to the new page's heading (or the main region), so keyboard
// and screen-reader users start at the new content instead of a link that is no longer there.
function focusMain() {
  const heading = main.querySelector("h1");
  const target = heading || main;
  if (heading) heading.setAttribute("tabindex", "-1");
  target.focus();
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function render() {
  // "#/loans/<id>": the route's name, then its parameters.
  const [name, ...params] = (location.hash.replace(/^#\//, "") || "dashboard").split("/").filter(Boolean);
  const route = ROUTES[name] ? name : "dashboard";
  if (!ROUTES[route].public && !isLoggedIn()) return navigate("#/login");
  if (ROUTES[route].public && isLoggedIn()) return navigate("#/dashboard");
  if (cleanup) cleanup();
  main.replaceChildren();
  nav.hidden = !isLoggedIn();
  for (const link of nav.querySelectorAll("a[data-route]")) {
    if (link.dataset.route === route) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${ROUTES[route].title} · VaultPay`;
  cleanup = ROUTES[route].view(main, { navigate, params: params.map(decodeURIComponent) }) || null;
  if (!firstRender) focusMain();
  firstRender = false;
}

onSessionEnd(() => navigate("#/login"));
document.getElementById("logout").addEventListener("click", async () => {
  await logout().catch(() => {});
  navigate("#/login");
});
window.addEventListener("hashchange", render);
// The skip link moves the focus into the page; following its "#main" would leave the route.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

restoreSession().finally(render);
