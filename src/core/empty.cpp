// intentionally empty: keeps a layer library non-empty before it has sources
