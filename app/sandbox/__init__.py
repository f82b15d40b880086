"""The sandbox: emulated store, suppliers and mail server speaking their real protocols."""
