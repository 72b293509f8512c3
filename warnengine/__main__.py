from warnengine.cli.main import main

main()
