"""key-manager: game key batches, encrypted keys, the key state machine and allocations to retailers."""
