from warnengine.runtime.cli import main

main()
