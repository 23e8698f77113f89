// latchkey page behaviour: log in through a popup window and keep every open tab's
// login boxes in step with the session. Everything here is an enhancement: without
// JavaScript, or when the popup is blocked, the plain links and forms do a full-page
// login and logout.
//
// One script serves latchkey's own pages (loaded from .../assets/app.<hash>.js) and
// the pages of an app behind latchkey (loaded from <prefix>/latchkey.js). Where it is
// loaded from tells it where latchkey's routes are. On an app's pages it also styles
// the boxes, and when an htmx request gets latchkey's 401 (the session ended while the
// user was at work) it opens the login popup and, once signed in, sends the request
// again, so that a half-filled form is not lost.
(function () {
  'use strict';

  const CHANNEL_NAME = 'latchkey-auth';
  const POPUP_NAME = 'latchkey-login';
  const POPUP_FEATURES = 'popup,width=520,height=680';
  // The htmx event latchkey's 401 names in HX-Trigger.
  const LOGIN_REQUIRED = 'latchkey:login-required';
  const BOXES = '[data-latchkey-box]';

  // Where latchkey's routes are, from this script's own address.
  const script = document.currentScript;
  const here = new URL(script.src, location.href).pathname;
  const embedded = /\/latchkey\.js$/.test(here);
  const base = embedded ? here.replace(/\/latchkey\.js$/, '') : here.replace(/\/assets\/.*$/, '');

  // The popup window this page opened, so a second click focuses it instead of
  // starting another login.
  let popup = null;

  // The box refresh in flight, and whether the session changed again while it
  // was running (see refreshBoxes).
  let refreshing = null;
  let refreshAgain = false;

  // htmx requests that got latchkey's 401, to send again once signed in.
  let waiting = [];

  // Without BroadcastChannel the popup could not tell this page that the login
  // finished, so such browsers keep the full-redirect flow.
  const channel = window.BroadcastChannel ? new BroadcastChannel(CHANNEL_NAME) : null;

  function boxes() {
    return document.querySelectorAll(BOXES);
  }

  // The session state the server rendered into this page's boxes, or null on pages
  // without one (the popup's closing page, an app page whose box has not loaded).
  function signedInHere() {
    const box = document.querySelector(BOXES);
    return box ? box.getAttribute('data-signed-in') === 'true' : null;
  }

  // openPopup opens the login at url in the popup window, and reports whether it
  // could: a blocked popup gives no window.
  function openPopup(url) {
    if (popup && !popup.closed) {
      popup.focus();
      return true;
    }
    // popup=1 makes the callback answer the small page that broadcasts and closes
    // itself instead of redirecting inside the popup.
    const u = new URL(url, location.href);
    u.searchParams.set('popup', '1');
    popup = window.open(u.href, POPUP_NAME, POPUP_FEATURES);
    return !!popup;
  }

  function onClick(event) {
    if (!channel || event.defaultPrevented) return;
    // Middle click and ctrl/cmd/shift-click mean "open in a new tab or window":
    // leave those to the browser.
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest('a[data-login-popup]');
    if (!link) return;
    event.preventDefault();
    if (!openPopup(link.href)) {
      // Blocked: fall back to the ordinary full-page login.
      location.assign(link.href);
    }
  }

  // Fetch the box again and put it in place of every box on the page, so the page
  // is not reloaded. Calls that come while one runs make it run once more after.
  function refreshBoxes() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = fetch(base + '/box', {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'HX-Request': 'true', 'HX-Current-URL': location.href },
    })
      .then(function (response) {
        if (!response.ok) throw new Error('box: ' + response.status);
        return response.text();
      })
      .then(function (html) {
        const template = document.createElement('template');
        template.innerHTML = html;
        const fresh = template.content.querySelector(BOXES);
        if (!fresh) throw new Error('box: no box in the answer');
        boxes().forEach(function (box) {
          box.replaceWith(fresh.cloneNode(true));
        });
      })
      .catch(function () {
        // latchkey's own pages show the server's view of the page instead; an app's
        // page is left as it is.
        if (!embedded) location.reload();
      })
      .then(function () {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          return refreshBoxes();
        }
      });
    return refreshing;
  }

  // Another page of the site says the session changed. Only pages that differ act,
  // and acting never posts to the channel, so tabs cannot echo each other forever.
  function onAuthMessage(event) {
    const data = event.data;
    if (!data || typeof data.signedIn !== 'boolean') return;
    if (data.signedIn) {
      removePrompt();
      sendAgain();
    }
    const shown = signedInHere();
    if (shown === null || (data.signedIn === shown && !refreshing)) return;

    if (!data.signedIn && document.body.hasAttribute('data-auth-required')) {
      // This page shows the user and cannot be shown without a session.
      location.replace(base + '/');
      return;
    }
    refreshBoxes();
  }

  // The requests that waited for a login, sent again as they were made, to the
  // element that made them: a form is read again, with what the user typed.
  function sendAgain() {
    const list = waiting;
    waiting = [];
    list.forEach(function (ctx) {
      const source = ctx.sourceElement;
      if (!source || !source.isConnected || !window.htmx) return;
      const options = { source: source, target: ctx.target, swap: ctx.swap, select: ctx.select };
      const submitter = ctx.request.submitter;
      if (submitter && submitter.name) {
        options.values = {};
        options.values[submitter.name] = submitter.value;
      }
      window.htmx.ajax(ctx.request.method, ctx.request.action, options);
    });
  }

  // The login URL of a 401 from latchkey, read from its HX-Trigger, or null for
  // any other answer.
  function loginRequired(ctx) {
    if (!ctx.response || ctx.response.status !== 401 || !ctx.hx || !ctx.hx.trigger) return null;
    try {
      const trigger = JSON.parse(ctx.hx.trigger);
      const detail = trigger && trigger[LOGIN_REQUIRED];
      return detail && typeof detail.loginURL === 'string' ? detail.loginURL : null;
    } catch (e) {
      return null;
    }
  }

  // An htmx request got latchkey's 401: keep it for later instead of following
  // HX-Redirect away from the page, and ask the user to sign in.
  function onResponse(event) {
    const ctx = event.detail && event.detail.ctx;
    const loginURL = ctx && loginRequired(ctx);
    if (!loginURL || !channel) return;
    event.preventDefault();
    waiting.push(ctx);
    if (!openPopup(loginURL)) showPrompt(loginURL);
  }

  // A notice with a button that opens the login popup, for when the browser would
  // not open it without a click.
  function showPrompt(loginURL) {
    if (document.querySelector('[data-latchkey-prompt]')) return;
    const prompt = document.createElement('div');
    prompt.className = 'latchkey-prompt';
    prompt.setAttribute('data-latchkey-prompt', '');
    prompt.setAttribute('role', 'alertdialog');
    prompt.setAttribute('aria-live', 'assertive');
    const text = document.createElement('p');
    text.textContent = 'You need to log in again. What you were doing is kept, and is sent once you have.';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button';
    button.textContent = 'Log in';
    button.addEventListener('click', function () {
      if (!openPopup(loginURL)) location.assign(loginURL);
    });
    prompt.append(text, button);
    document.body.append(prompt);
  }

  function removePrompt() {
    const prompt = document.querySelector('[data-latchkey-prompt]');
    if (prompt) prompt.remove();
  }

  // An app's page gets the boxes' stylesheet, unless it has one of its own.
  function addStyle() {
    if (document.querySelector('link[data-latchkey-style]') || script.hasAttribute('data-no-style')) return;
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = base + '/assets/box.css';
    link.setAttribute('data-latchkey-style', '');
    document.head.append(link);
  }

  function start() {
    document.addEventListener('click', onClick);
    const meta = (window.htmx && window.htmx.config && window.htmx.config.metaCharacter) || ':';
    document.addEventListener(['htmx', 'before', 'response'].join(meta), onResponse);

    // A page restored from the back/forward cache may show a user who has since
    // logged out: latchkey's pages are loaded again, so the server decides what they
    // show; an app's page has its boxes drawn again.
    window.addEventListener('pageshow', function (event) {
      if (!event.persisted) return;
      if (embedded) refreshBoxes();
      else location.reload();
    });

    // Tabs deliberately do not re-check on focus or visibilitychange: the channel
    // already tells them about every login and logout, so that would only add requests.

    if (!channel) return;
    channel.onmessage = onAuthMessage;

    if (document.body.hasAttribute('data-auth-popup-done')) {
      // The login finished in this popup: tell the site's pages, then go away.
      // When the browser refuses to close the window, its Continue link remains.
      channel.postMessage({ signedIn: true });
      window.close();
      return;
    }

    // Tell the other tabs what this freshly loaded page knows, so a login or
    // logout done here with a full-page redirect reaches them too.
    const shown = signedInHere();
    if (shown !== null) channel.postMessage({ signedIn: shown });
  }

  if (embedded) addStyle();
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
