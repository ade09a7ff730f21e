"""Tools for seg_d2's developers (not for its users, not benchmarks)."""
