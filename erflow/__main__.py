from erflow.cli.main import main

main()
