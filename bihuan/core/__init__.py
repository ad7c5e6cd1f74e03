"""Pure core: scoring, draws, deadlines and state rules over plain data, with no I/O."""
