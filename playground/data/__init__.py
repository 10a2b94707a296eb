"""The data a GAN learns: toy 2D sets, torchvision image sets, the bundled digits, a person's
own folders, zips and points, behind one `DataSource`. May import `models`, `objectives`, `views`;
never `settings` (a settings object is passed in)."""
