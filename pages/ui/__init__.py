"""The app's drawing helpers, one module per view; the page scripts in `pages/` call them.
They may import `playground` and each other; nothing in `playground/` imports them."""
