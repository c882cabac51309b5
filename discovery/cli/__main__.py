from discovery.cli import main

raise SystemExit(main())
