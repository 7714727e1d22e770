"""`aito demo`: a simulated day of the example organization on the embedded defaults."""
