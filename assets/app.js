// latchkey page behaviour: log in through a popup window and keep every open tab's
// auth box in step with the session. Everything here is an enhancement: without
// JavaScript, or when the popup is blocked, the plain links and forms do a full-page
// login and logout.
(function () {
  'use strict';

  const CHANNEL_NAME = 'latchkey-auth';
  const POPUP_NAME = 'latchkey-login';
  const POPUP_FEATURES = 'popup,width=520,height=680';

  // The popup window this page opened, so a second click focuses it instead of
  // starting another login.
  let popup = null;

  // The auth box refresh in flight, and whether the session changed again while it
  // was running (see refreshAuthBox).
  let refreshing = null;
  let refreshAgain = false;

  // Without BroadcastChannel the popup could not tell this page that the login
  // finished, so such browsers keep the full-redirect flow.
  const channel = window.BroadcastChannel ? new BroadcastChannel(CHANNEL_NAME) : null;

  function authBox() {
    return document.getElementById('auth-box');
  }

  // The session state the server rendered into this page, or null on pages
  // without an auth box (the popup's closing page).
  function signedInHere() {
    const box = authBox();
    return box ? box.getAttribute('data-signed-in') === 'true' : null;
  }

  function openLoginPopup(event) {
    if (!channel || event.defaultPrevented) return;
    // Middle click and ctrl/cmd/shift-click mean "open in a new tab or window":
    // leave those to the browser.
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest('a[data-login-popup]');
    if (!link) return;

    event.preventDefault();
    if (popup && !popup.closed) {
      popup.focus();
      return;
    }
    // popup=1 makes the callback answer the small page that broadcasts and closes
    // itself instead of redirecting inside the popup.
    const url = new URL(link.href);
    url.searchParams.set('popup', '1');
    popup = window.open(url.href, POPUP_NAME, POPUP_FEATURES);
    if (!popup) {
      // Blocked: fall back to the ordinary full-page login.
      location.assign(link.href);
    }
  }

  // Fetch this page's auth box fragment again (GET / with HX-Request answers only
  // #auth-box) and swap it in place, so the page is not reloaded.
  function refreshAuthBox() {
    if (!window.htmx) {
      location.reload();
      return;
    }
    // htmx would queue a second request, but the queued one keeps a reference to the
    // box the first swap removes and then skips its swap; so run them one after the
    // other here, each finding the current #auth-box.
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = window.htmx
      .ajax('GET', '/', { target: '#auth-box', swap: 'outerHTML' })
      .catch(function () {
        // No auth box to swap into: show the server's view of the page instead.
        location.reload();
      })
      .then(function () {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          refreshAuthBox();
        }
      });
  }

  // Another page of the app says the session changed. Only pages that differ act,
  // and acting never posts to the channel, so tabs cannot echo each other forever.
  function onAuthMessage(event) {
    const data = event.data;
    if (!data || typeof data.signedIn !== 'boolean') return;
    const here = signedInHere();
    if (here === null || (data.signedIn === here && !refreshing)) return;

    if (!data.signedIn && document.body.hasAttribute('data-auth-required')) {
      // This page shows the user and cannot be shown without a session.
      location.replace('/');
      return;
    }
    refreshAuthBox();
  }

  function start() {
    document.addEventListener('click', openLoginPopup);

    // A page restored from the back/forward cache may show a user who has since
    // logged out; load it again so the server decides what it shows.
    window.addEventListener('pageshow', function (event) {
      if (event.persisted) location.reload();
    });

    // Tabs deliberately do not re-check on focus or visibilitychange: the channel
    // already tells them about every login and logout, so that would only add requests.

    if (!channel) return;
    channel.onmessage = onAuthMessage;

    if (document.body.hasAttribute('data-auth-popup-done')) {
      // The login finished in this popup: tell the app's pages, then go away.
      // When the browser refuses to close the window, its Continue link remains.
      channel.postMessage({ signedIn: true });
      window.close();
      return;
    }

    // Tell the other tabs what this freshly loaded page knows, so a login or
    // logout done here with a full-page redirect reaches them too.
    const here = signedInHere();
    if (here !== null) channel.postMessage({ signedIn: here });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
