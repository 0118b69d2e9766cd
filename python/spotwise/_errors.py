class ContractError(ValueError):
    """The trainer contract's environment is missing a variable or holds a value it cannot have;
    the message names the variable (docs/job-spec.md, "The trainer's environment")."""
