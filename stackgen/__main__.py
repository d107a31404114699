"""`python -m stackgen`: the same CLI as the `stackgen` console script."""

from stackgen.cli import main

main()
