// latchkey page behaviour: log in through a popup window and keep every open tab's
// login boxes in step with the session. Everything here is an enhancement: without
// JavaScript, or when the popup is blocked, the plain links and forms do a full-page
// login and logout.
//
// One script serves latchkey's own pages (loaded from .../assets/app.<hash>.js) and
// the pages of an app behind latchkey (loaded from <prefix>/latchkey.js). Where it is
// loaded from tells it where latchkey's routes are. On an app's pages it also styles
// the boxes, and when an htmx request gets latchkey's 401 (the session ended while the
// user was at work) it opens the login popup and, once logged in, sends the request
// again, so that a half-filled form is not lost.
//
// Pages in the popup know it: a login that ends there, however it ends, closes the
// popup and tells the page that opened it, which shows the outcome in place of its
// login box. Whatever a swap replaces, focus moves to the new content's heading and a
// polite live region says what changed.
(function () {
  'use strict';

  const CHANNEL_NAME = 'latchkey-auth';
  const POPUP_NAME = 'latchkey-login';
  // Room for the development provider's three demo users and Cancel; a smaller
  // screen gets what it has, and the popup's pages fit themselves to it.
  const POPUP_WIDTH = 520;
  const POPUP_HEIGHT = 640;
  // The htmx event latchkey's 401 names in HX-Trigger.
  const LOGIN_REQUIRED = 'latchkey:login-required';
  const BOXES = '[data-latchkey-box]';
  const NAVS = '[data-latchkey-nav]';
  // What the server drew for the session: the boxes, and the header's links.
  const STATE = '[data-signed-in]';

  // Where latchkey's routes are, from this script's own address.
  const script = document.currentScript;
  const here = new URL(script.src, location.href).pathname;
  const embedded = /\/latchkey\.js$/.test(here);
  const base = embedded ? here.replace(/\/latchkey\.js$/, '') : here.replace(/\/assets\/.*$/, '');
  const loginPath = base + '/login';

  // The popup window this page opened, so a second click focuses it instead of
  // starting another login; awaiting says that its login has not ended yet, and
  // lastLogin is the login it was opened for.
  let popup = null;
  let awaiting = false;
  let lastLogin = null;

  // The box refresh in flight, and whether the session changed again while it
  // was running (see refreshBoxes).
  let refreshing = null;
  let refreshAgain = false;

  // htmx requests that got latchkey's 401, to send again once logged in.
  let waiting = [];

  // In the popup: the id of the ending this page reported, until the page that
  // opened the popup says it has shown it.
  let reported = null;

  // Without BroadcastChannel the popup could not tell this page that the login
  // finished, so such browsers keep the full-redirect flow.
  const channel = window.BroadcastChannel ? new BroadcastChannel(CHANNEL_NAME) : null;

  function htmxEvent(name) {
    const meta = (window.htmx && window.htmx.config && window.htmx.config.metaCharacter) || ':';
    return ['htmx'].concat(name.split(':')).join(meta);
  }

  // The session state the server rendered into this page, or null on pages that
  // show none (the popup's pages, an app page whose box has not loaded).
  function signedInHere() {
    const shown = document.querySelector(STATE);
    return shown ? shown.getAttribute('data-signed-in') === 'true' : null;
  }

  // Whether this page is in the login popup: the server says so, or the window is
  // the one a page of this site opened under POPUP_NAME (pages the server cannot
  // tell, such as an expired login's).
  function inPopup() {
    if (document.body.hasAttribute('data-latchkey-popup')) return true;
    try {
      return window.name === POPUP_NAME && !!window.opener && window.opener.location.origin === location.origin;
    } catch (e) {
      return false; // an opener on another origin
    }
  }

  function isLoginLink(link) {
    return link.hasAttribute('data-login-popup') || (link.origin === location.origin && link.pathname === loginPath);
  }

  function asPopupLogin(url) {
    const u = new URL(url, location.href);
    u.searchParams.set('popup', '1');
    return u.href;
  }

  // openPopup opens the login at url in the popup window, and reports whether it
  // could: a blocked popup gives no window.
  function openPopup(url) {
    lastLogin = url;
    if (popup && !popup.closed) {
      popup.focus();
      return true;
    }
    // popup=1 makes the callback answer the small page that broadcasts and closes
    // itself instead of redirecting inside the popup.
    const width = Math.min(POPUP_WIDTH, screen.availWidth);
    const height = Math.min(POPUP_HEIGHT, screen.availHeight);
    const left = Math.max(0, Math.round(window.screenX + (window.outerWidth - width) / 2));
    const top = Math.max(0, Math.round(window.screenY + (window.outerHeight - height) / 3));
    popup = window.open(asPopupLogin(url), POPUP_NAME,
      'popup,width=' + width + ',height=' + height + ',left=' + left + ',top=' + top);
    awaiting = !!popup;
    return !!popup;
  }

  function onClick(event) {
    if (!channel || event.defaultPrevented) return;
    // Middle click and ctrl/cmd/shift-click mean "open in a new tab or window":
    // leave those to the browser.
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest('a[href]');
    if (!link) return;
    if (inPopup()) {
      onPopupClick(event, link);
      return;
    }
    if (!link.hasAttribute('data-login-popup')) return;
    event.preventDefault();
    if (!openPopup(link.href)) {
      // Blocked: fall back to the ordinary full-page login.
      location.assign(link.href);
    }
  }

  // In the popup, a login link (Try again) starts a popup login here, and any
  // other link of the site (Home, Close) ends the popup: it never becomes a second
  // window of the site.
  function onPopupClick(event, link) {
    if (isLoginLink(link)) {
      event.preventDefault();
      location.assign(asPopupLogin(link.href));
    } else if (link.origin === location.origin) {
      event.preventDefault();
      closePopup(link.href);
    }
  }

  // closePopup closes this popup window, or, when the browser will not, goes to
  // fallback.
  function closePopup(fallback) {
    window.close();
    if (!window.closed && fallback) location.assign(fallback);
  }

  // A login that ended in the popup without one: say so to the page that opened
  // the popup, and close once it has shown it. When no page answers (the opener
  // was closed or went elsewhere), the popup stays, with its Try again and Close.
  function reportEnding() {
    const problem = document.querySelector('[data-latchkey-problem]');
    if (!problem || !channel) return;
    const title = problem.querySelector('h1');
    const message = problem.querySelector('p');
    reported = Math.random().toString(36).slice(2);
    channel.postMessage({
      loginEnded: {
        id: reported,
        title: title ? title.textContent.trim() : 'Not logged in',
        message: message ? message.textContent.trim() : '',
      },
    });
  }

  // Make the popup's window as tall as its page, where the screen has room.
  function fitPopup() {
    const extra = document.documentElement.scrollHeight - window.innerHeight;
    if (extra > 0 && window.outerHeight + extra <= screen.availHeight) {
      try {
        window.resizeBy(0, extra);
      } catch (e) {
        // Not a window this page may resize (a tab on a phone).
      }
    }
  }

  // The live region that says what changed, polite: latchkey's pages have one, an
  // app's page gets one.
  function liveRegion() {
    let region = document.querySelector('[data-latchkey-status]');
    if (!region) {
      region = document.createElement('div');
      region.className = 'latchkey-status';
      region.setAttribute('role', 'status');
      region.setAttribute('aria-live', 'polite');
      region.setAttribute('data-latchkey-status', '');
      document.body.append(region);
    }
    return region;
  }

  function announce(text) {
    if (!text) return;
    const region = liveRegion();
    // Emptied first, so that the same words said twice are said again.
    region.textContent = '';
    requestAnimationFrame(function () {
      region.textContent = text;
    });
  }

  // focusIn moves focus to the heading of the content el, or its first control.
  function focusIn(el) {
    const target = el.matches('[data-latchkey-heading]') ? el
      : el.querySelector('[data-latchkey-heading]') || el.querySelector('a[href], button, input, select, textarea, [tabindex]');
    if (target) target.focus();
  }

  function focusLost() {
    const active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  // Session times are drawn in UTC by the server; this writes them in the viewer's
  // own time zone.
  const timeFormat = window.Intl && Intl.DateTimeFormat ? new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
  }) : null;

  function formatTimes(root) {
    if (!timeFormat) return;
    root.querySelectorAll('time[data-latchkey-time]').forEach(function (el) {
      const at = new Date(el.getAttribute('datetime'));
      if (!isNaN(at)) el.textContent = timeFormat.format(at);
    });
  }

  // Fetch the box again and put it in place of every box on the page, and the
  // header's session links with it on latchkey's own pages, so the page is not
  // reloaded. Calls that come while one runs make it run once more after.
  function refreshBoxes(opened) {
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
        const freshNav = template.content.querySelector(NAVS);
        const active = document.activeElement;
        // This page opened the login: it is where the user comes back to.
        let hadFocus = !!opened;
        let first = null;
        boxes().forEach(function (box) {
          if (box.contains(active)) hadFocus = true;
          const copy = fresh.cloneNode(true);
          box.replaceWith(copy);
          first = first || copy;
        });
        if (freshNav) {
          document.querySelectorAll(NAVS).forEach(function (nav) {
            if (nav.contains(active)) hadFocus = true;
            nav.replaceWith(freshNav.cloneNode(true));
          });
        }
        if (first && (hadFocus || focusLost())) focusIn(first);
        const signedIn = fresh.getAttribute('data-signed-in') === 'true';
        const name = fresh.querySelector('.name');
        announce(signedIn ? 'You are logged in' + (name ? ' as ' + name.textContent.trim() : '') + '.' : 'You are logged out.');
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

  function boxes() {
    return document.querySelectorAll(BOXES);
  }

  // The login this page opened in the popup ended there without a session: show
  // why in place of each login box, with a way to try again.
  function showEnding(ending) {
    const signedOut = document.querySelectorAll(BOXES + '[data-signed-in="false"]');
    if (waiting.length || !signedOut.length) {
      if (lastLogin) showPrompt(lastLogin, ending.title + '. ' + ending.message);
      return;
    }
    let first = null;
    signedOut.forEach(function (box) {
      const login = box.querySelector('a[data-login-popup]');
      const section = document.createElement('section');
      section.className = 'card login-problem';
      section.setAttribute('data-testid', 'login-problem');
      const heading = document.createElement('h2');
      heading.tabIndex = -1;
      heading.setAttribute('data-latchkey-heading', '');
      heading.textContent = ending.title;
      const text = document.createElement('p');
      text.textContent = ending.message;
      section.append(heading, text);
      if (login) {
        const again = login.cloneNode(false);
        again.textContent = 'Try again';
        section.append(again);
      }
      box.replaceChildren(section);
      first = first || box;
    });
    // The user was at the popup, which has closed: on to what it said.
    focusIn(first);
    announce(ending.title + '. ' + ending.message);
  }

  // Another page of the site says the session changed, or a popup login ended.
  // Only pages that differ act, and acting never posts a session change to the
  // channel, so tabs cannot echo each other forever.
  function onAuthMessage(event) {
    const data = event.data;
    if (!data) return;
    if (data.loginEndedShown && data.loginEndedShown === reported) {
      closePopup(null);
      return;
    }
    if (data.loginEnded) {
      if (!awaiting) return;
      awaiting = false;
      showEnding(data.loginEnded);
      channel.postMessage({ loginEndedShown: data.loginEnded.id });
      return;
    }
    if (typeof data.signedIn !== 'boolean') return;
    const opened = awaiting;
    if (data.signedIn) {
      awaiting = false;
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
    refreshBoxes(opened);
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
  // HX-Redirect away from the page, and ask the user to log in.
  function onResponse(event) {
    const ctx = event.detail && event.detail.ctx;
    const loginURL = ctx && loginRequired(ctx);
    if (!loginURL || !channel) return;
    event.preventDefault();
    waiting.push(ctx);
    if (!openPopup(loginURL)) showPrompt(loginURL);
  }

  // A swap put latchkey's content in the page: times in the viewer's zone, focus on
  // its heading when the swap took it away, and what changed said aloud.
  function onSettle(event) {
    const fresh = event.target;
    if (!(fresh instanceof Element) || (embedded && !fresh.closest(BOXES))) return;
    formatTimes(fresh);
    const said = fresh.closest('[data-latchkey-announce]') || fresh.querySelector('[data-latchkey-announce]');
    if (said) {
      announce(said.getAttribute('data-latchkey-announce'));
      said.removeAttribute('data-latchkey-announce');
    }
    if (focusLost()) focusIn(fresh);
  }

  // A notice with a button that opens the login popup, for when the browser would
  // not open it without a click, or the login in the popup did not succeed.
  function showPrompt(loginURL, why) {
    removePrompt();
    const prompt = document.createElement('div');
    prompt.className = 'latchkey-prompt';
    prompt.setAttribute('data-latchkey-prompt', '');
    prompt.setAttribute('role', 'alertdialog');
    prompt.setAttribute('aria-live', 'assertive');
    prompt.setAttribute('aria-label', 'Log in again');
    const text = document.createElement('p');
    text.textContent = (why ? why + ' ' : '') +
      'You need to log in again. What you were doing is kept, and is sent once you have.';
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
    document.addEventListener(htmxEvent('before:response'), onResponse);
    document.addEventListener(htmxEvent('after:settle'), onSettle);
    formatTimes(document);
    if (embedded) liveRegion();

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
    if (inPopup()) {
      fitPopup();
      reportEnding();
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
