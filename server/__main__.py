from alchemy_server.main import main

main()
