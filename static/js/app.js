// mentorcircle: small progressive enhancements. Everything works without this file.
// Buttons in forms with data-confirm ask before doing something that is hard to undo.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : null;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
