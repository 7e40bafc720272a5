/**
 * The pages' only script, served by the API at PAGE_SCRIPT_PATH (the CSP allows scripts from the API
 * itself, never inline). No framework: copy buttons and relative times that stay true on an open page.
 * Without it every page still reads: times show "3 days ago" as rendered, with the absolute time on hover.
 */
export const PAGE_SCRIPT = `'use strict';
(function () {
  var UNITS = [['year', 31536e6], ['month', 2592e6], ['day', 864e5], ['hour', 36e5], ['minute', 6e4]];
  function ago(t) {
    var diff = Date.now() - t;
    for (var i = 0; i < UNITS.length; i++) {
      var n = Math.floor(Math.abs(diff) / UNITS[i][1]);
      if (n >= 1) { var u = UNITS[i][0] + (n === 1 ? '' : 's'); return diff >= 0 ? n + ' ' + u + ' ago' : 'in ' + n + ' ' + u; }
    }
    return 'just now';
  }
  function refreshTimes() {
    document.querySelectorAll('time[datetime]').forEach(function (el) {
      var t = Date.parse(el.getAttribute('datetime'));
      if (!isNaN(t)) el.textContent = ago(t);
    });
  }
  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    return fallbackCopy(text);
  }
  function init() {
    refreshTimes();
    setInterval(refreshTimes, 60000);
    document.querySelectorAll('button.copy[data-copy]').forEach(function (button) {
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener('click', function () {
        copy(button.getAttribute('data-copy')).then(
          function () { button.textContent = 'Copied'; },
          function () { button.textContent = 'Copy failed: select the text'; }
        ).then(function () { setTimeout(function () { button.textContent = label; }, 2000); });
      });
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
`;
