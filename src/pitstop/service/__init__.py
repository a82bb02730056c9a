"""Service centers and appointments: opening hours, free slots, booking within capacity."""
