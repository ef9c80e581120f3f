from invoicer.cli.app import main

main()
