"""The app's pages (thin: read widgets, call `playground`, draw) and their drawing helpers."""
