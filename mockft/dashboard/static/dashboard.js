// mockft dashboard: live regions, copy buttons and the playground. No library; the pages
// work without this script (forms post, links page), it only saves reloads.
"use strict";

(function () {
  const POLL_MS = 1500;
  const FRAGMENT_HEADER = "X-Dashboard-Fragment";

  function announce(text) {
    const region = document.getElementById("announce");
    if (region) {
      region.textContent = "";
      region.textContent = text;
    }
  }

  // Replace a region's content, keeping keyboard focus on the element that had it.
  function swap(region, html) {
    const active = document.activeElement;
    const focusedId = active && active.id && region.contains(active) ? active.id : null;
    region.innerHTML = html;
    if (focusedId) {
      const again = document.getElementById(focusedId);
      if (again) again.focus({ preventScroll: true });
    }
  }

  // A region with data-live="URL" asks URL for its fragment every POLL_MS while the page
  // is visible; the server answers 304 while nothing changed (ETag).
  function watch(region) {
    let etag = region.dataset.etag || null;
    let busy = false;
    async function tick() {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const headers = { [FRAGMENT_HEADER]: "1" };
        if (etag) headers["If-None-Match"] = etag;
        const response = await fetch(region.dataset.live, {
          headers: headers,
          credentials: "same-origin",
          cache: "no-store",
        });
        if (response.status === 401 || response.status === 404) {
          // Signed out, or what the page shows is gone (a reset): the page says which.
          window.location.reload();
        } else if (response.status === 200) {
          etag = response.headers.get("ETag");
          swap(region, await response.text());
        }
      } catch (error) {
        // The server is away (restarting): the next tick tries again.
      } finally {
        busy = false;
      }
    }
    setInterval(tick, POLL_MS);
    document.addEventListener("visibilitychange", tick);
  }

  async function copy(button) {
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
      announce("Copied " + text);
    } catch (error) {
      // No clipboard permission: select the text for the keyboard's copy.
      const code = button.parentElement.querySelector("code");
      if (code) {
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
      button.textContent = "Selected";
      announce("Selected " + text + ": press Control+C to copy");
    }
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }

  async function sendPlayground(form) {
    const target = document.getElementById(form.dataset.fragmentTarget);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    target.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { [FRAGMENT_HEADER]: "1" },
        credentials: "same-origin",
      });
      target.innerHTML = await response.text();
    } catch (error) {
      target.textContent = "The server did not answer.";
    } finally {
      button.disabled = false;
      target.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-copy]");
    if (button) copy(button);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(watch);
    const playground = document.getElementById("playground");
    if (playground) {
      playground.addEventListener("submit", function (event) {
        event.preventDefault();
        sendPlayground(playground);
      });
    }
  });
})();
