"""The privacy page's phrases in English and French (app/web/phrases.py)."""

from __future__ import annotations

from app.web.phrases import Phrasebook

TEXT = Phrasebook("privacy", {
    "en": {
        "title": "Privacy",
        "subtitle": "Requests your customers made through the store, and what Dropguard did about them.",
        "held": "{count} erasure requests are waiting for a dispute to close",
        "held_one": "1 erasure request is waiting for a dispute to close",
        "held_text": "The customer's data is evidence in an open chargeback. It is erased automatically as soon as the dispute is decided.",
        "col.request": "Request", "col.status": "Status", "col.received": "Received", "col.completed": "Completed",
        "col.details": "Details",
        "kind.customer_data_request": "Data request",
        "kind.customer_redact": "Erasure",
        "download": "Download export",
        "until": "until {when}",
        "erased": "Personal data erased everywhere, the evidence ledger included.",
        "empty": "No privacy requests yet. They arrive from your store when a customer asks for their data or for its erasure.",
        "keeps.title": "What Dropguard keeps",
        "keeps.text": "Exports are kept {days} days for you to send to the customer. An erasure removes the customer's name, e-mail, phone and address from every record, keeps what proves your orders (amounts, dates, tracking, the ledger's digests), and waits while an open dispute needs the delivery evidence. When you uninstall, everything is erased 48 hours later.",
    },
    "fr": {
        "title": "Confidentialité",
        "subtitle": "Les demandes que vos clients ont faites via la boutique, et ce que Dropguard en a fait.",
        "held": "{count} demandes d'effacement attendent la clôture d'un litige",
        "held_one": "1 demande d'effacement attend la clôture d'un litige",
        "held_text": "Les données du client servent de preuve dans une rétrofacturation en cours. Elles sont effacées automatiquement dès que le litige est tranché.",
        "col.request": "Demande", "col.status": "Statut", "col.received": "Reçue", "col.completed": "Terminée",
        "col.details": "Détails",
        "kind.customer_data_request": "Demande de données",
        "kind.customer_redact": "Effacement",
        "download": "Télécharger l'export",
        "until": "jusqu'au {when}",
        "erased": "Données personnelles effacées partout, registre de preuves compris.",
        "empty": "Aucune demande pour l'instant. Elles arrivent de votre boutique quand un client demande ses données ou leur effacement.",
        "keeps.title": "Ce que Dropguard conserve",
        "keeps.text": "Les exports sont conservés {days} jours pour que vous les transmettiez au client. Un effacement retire le nom, l'e-mail, le téléphone et l'adresse du client de chaque enregistrement, garde ce qui prouve vos commandes (montants, dates, suivi, empreintes du registre), et attend tant qu'un litige ouvert a besoin des preuves de livraison. Si vous désinstallez, tout est effacé 48 heures plus tard.",
    },
})
