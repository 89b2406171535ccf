from contract_check.cli import main

main()
