// The moment scripts/bench-app.sh compares the app's first rendered snapshot against.
document.addEventListener('DOMContentLoaded', () => performance.mark('first-content'));
