"""Chapter 4 (relaxing the L1 norm): the page's gradient descent (``descent``), figures and
exercise checkers."""
