"""The branding page's phrases (how the shop's messages and status page look), in English and French."""

from __future__ import annotations

from app.web.phrases import Phrasebook

TEXT = Phrasebook({
    "en": {
        "title": "How your messages look",
        "subtitle": "Customers read your shop's name, logo and colour in every e-mail and on their order status page, never Dropguard's.",
        "sender.heading": "Sender",
        "sender.intro": "Who the e-mails come from and where customers' replies go.",
        "display_name": "Shop name customers see",
        "display_name.help": "Empty: your store's name ({name}).",
        "reply_to": "Replies go to",
        "reply_to.help": "Empty: your store's e-mail ({email}).",
        "from.preview": "Your e-mails come from: {sender}",
        "look.heading": "Logo and colour",
        "look.intro": "Shown at the top of every e-mail and status page; the colour is that of buttons and the progress bar.",
        "logo_url": "Logo address (https)",
        "logo_url.help": "An image you host (PNG or SVG, about 240×80). Empty: your shop's name in text.",
        "colour": "Brand colour",
        "wording.heading": "Where orders are prepared",
        "wording.intro": "How customers read the place that prepares their order, in each language (“Sent to …”, “Being prepared at …”). Never “supplier”.",
        "wording.default": "Empty: “{default}”.",
        "save": "Save",
        "saved": "Saved: the next messages and every status page use it.",
        "not_saved": "Nothing was saved: {count} field(s) to fix.",
        "back": "Notifications",
    },
    "fr": {
        "title": "L’apparence de vos messages",
        "subtitle": "Vos clients lisent le nom, le logo et la couleur de votre boutique dans chaque e-mail et sur la page de suivi de leur commande, jamais ceux de Dropguard.",
        "sender.heading": "Expéditeur",
        "sender.intro": "De qui viennent les e-mails et où vont les réponses des clients.",
        "display_name": "Nom de boutique affiché aux clients",
        "display_name.help": "Vide : le nom de votre boutique ({name}).",
        "reply_to": "Les réponses vont à",
        "reply_to.help": "Vide : l’e-mail de votre boutique ({email}).",
        "from.preview": "Vos e-mails partent de : {sender}",
        "look.heading": "Logo et couleur",
        "look.intro": "Affichés en haut de chaque e-mail et page de suivi ; la couleur est celle des boutons et de la barre d’avancement.",
        "logo_url": "Adresse du logo (https)",
        "logo_url.help": "Une image que vous hébergez (PNG ou SVG, environ 240×80). Vide : le nom de votre boutique en texte.",
        "colour": "Couleur de la marque",
        "wording.heading": "Où les commandes sont préparées",
        "wording.intro": "Comment vos clients lisent le lieu qui prépare leur commande, dans chaque langue (« Transmise à … », « En préparation dans … »). Jamais « fournisseur ».",
        "wording.default": "Vide : « {default} ».",
        "save": "Enregistrer",
        "saved": "Enregistré : les prochains messages et toutes les pages de suivi l’utilisent.",
        "not_saved": "Rien n’a été enregistré : {count} champ(s) à corriger.",
        "back": "Notifications",
    },
})
