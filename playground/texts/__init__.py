"""The words the app shows, in each language it speaks: one catalogue per language (gettext
`.po` files read with Babel; the English text is the key), and the lookup that pages use.
Imports nothing else of the project."""
