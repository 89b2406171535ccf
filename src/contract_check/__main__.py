from contract_check.cli.app import main

main()
