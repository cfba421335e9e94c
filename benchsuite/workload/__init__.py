"""What a model under test is: the ``Workload`` interface, its inputs, trained weights, and
where workloads are found."""
