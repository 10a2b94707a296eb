"""Pure figure and image builders: plotly figures, sample grids and images, the 2D view's window
and layers. The bottom layer of the engine: imports nothing from the project."""
