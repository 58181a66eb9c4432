// Public surface of the autoscaler workspace (filled in by the autoscaler work).
