// Times are rendered in the browser's time zone: tell the server which one it is.
(function () {
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && document.cookie.indexOf("tz=" + tz) === -1) {
    document.cookie = "tz=" + tz + "; path=/; SameSite=Lax; max-age=31536000";
  }
})();
