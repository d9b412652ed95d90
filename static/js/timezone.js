// Tell the server the browser's time zone, so dates show in the user's local time.
(function () {
  try {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && !document.cookie.split("; ").includes("tz=" + encodeURIComponent(tz))) {
      document.cookie = "tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* an old browser keeps UTC */ }
})();
