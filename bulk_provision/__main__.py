from bulk_provision.cli import main

raise SystemExit(main())
