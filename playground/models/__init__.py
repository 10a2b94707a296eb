"""The networks: MLP, DCGAN, ResNet-SN, StyleGAN and InfoGAN heads, and the architecture
registry that builds a pair from a settings object passed in (never imported). May import
`objectives`, `views`."""
