# profiler/ build fragment.
