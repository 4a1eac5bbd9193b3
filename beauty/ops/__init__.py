"""Operations: `bench` (speed and memory), `deploy` (Space and model repo), `server` (the app as a subprocess)."""
