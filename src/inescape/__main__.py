from inescape.cli import main

main()
