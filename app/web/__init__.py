"""What every merchant page needs: rendering and headers, the authenticated shop, HTML errors,
form helpers, the navigation, the routers list, and the registries through which each domain adds
its parts to the cross-domain pages (order panels, home attention items, orders-list filters).
See app/web/README.md for how to add a page."""
