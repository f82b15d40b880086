"""The subset of Shopify's Admin GraphQL schema (API 2026-07 names and shapes) the emulator serves."""

SDL = """
schema { query: QueryRoot mutation: Mutation }

"Makes a mutation safe to retry: a repeat with the same key returns the first result."
directive @idempotent(key: String!) on FIELD

scalar DateTime
scalar URL
scalar UnsignedInt64
scalar Decimal

enum OrderDisplayFinancialStatus { PENDING AUTHORIZED PARTIALLY_PAID PARTIALLY_REFUNDED VOIDED PAID REFUNDED EXPIRED }
enum OrderDisplayFulfillmentStatus { UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED PENDING_FULFILLMENT OPEN IN_PROGRESS ON_HOLD SCHEDULED REQUEST_DECLINED }
enum FulfillmentOrderStatus { OPEN IN_PROGRESS CANCELLED INCOMPLETE CLOSED SCHEDULED ON_HOLD }
enum FulfillmentOrderRequestStatus { UNSUBMITTED SUBMITTED ACCEPTED REJECTED CANCELLATION_REQUESTED CANCELLATION_ACCEPTED CANCELLATION_REJECTED CLOSED }
enum FulfillmentStatus { SUCCESS CANCELLED ERROR FAILURE OPEN PENDING }
enum FulfillmentDisplayStatus { ATTEMPTED_DELIVERY CANCELED CARRIER_PICKED_UP CONFIRMED DELAYED DELIVERED FAILURE FULFILLED IN_TRANSIT LABEL_PRINTED LABEL_PURCHASED LABEL_VOIDED MARKED_AS_FULFILLED NOT_DELIVERED OUT_FOR_DELIVERY PICKED_UP READY_FOR_PICKUP SUBMITTED }
enum FulfillmentEventStatus { ATTEMPTED_DELIVERY CARRIER_PICKED_UP CONFIRMED DELAYED DELIVERED FAILURE IN_TRANSIT LABEL_PRINTED LABEL_PURCHASED OUT_FOR_DELIVERY PICKED_UP READY_FOR_PICKUP }

type QueryRoot {
  shop: Shop!
  order(id: ID!): Order
  fulfillmentOrder(id: ID!): FulfillmentOrder
  orders(first: Int, last: Int, after: String, before: String, reverse: Boolean, sortKey: OrderSortKeys, query: String): OrderConnection!
  ordersCount(query: String, limit: Int): Count
  webhookSubscriptions(first: Int, last: Int, after: String, before: String, reverse: Boolean, topics: [WebhookSubscriptionTopic!]): WebhookSubscriptionConnection!
}

type Mutation {
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  fulfillmentTrackingInfoUpdate(fulfillmentId: ID!, trackingInfoInput: FulfillmentTrackingInput!, notifyCustomer: Boolean): FulfillmentTrackingInfoUpdatePayload
  fulfillmentEventCreate(fulfillmentEvent: FulfillmentEventInput!): FulfillmentEventCreatePayload
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}

type Shop { id: ID! name: String! myshopifyDomain: String! currencyCode: String! }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

type Order {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  createdAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  closed: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  lineItems(first: Int, last: Int, after: String, before: String, reverse: Boolean): LineItemConnection!
  fulfillmentOrders(first: Int, last: Int, after: String, before: String, reverse: Boolean, displayable: Boolean, query: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
  processedAt: DateTime!
  currencyCode: String!
  totalPriceSet: MoneyBag!
  customerLocale: String
  phone: String
  customer: Customer
  shippingAddress: MailingAddress
  refunds(first: Int): [Refund!]!
  disputes: [OrderDisputeSummary!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }
enum OrderSortKeys { CREATED_AT ID PROCESSED_AT UPDATED_AT }
enum CountPrecision { EXACT AT_LEAST }
type Count { count: Int! precision: CountPrecision! }
type MoneyV2 { amount: Decimal! currencyCode: String! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Customer { id: ID! legacyResourceId: UnsignedInt64! email: String firstName: String lastName: String phone: String }
type MailingAddress {
  firstName: String lastName: String name: String company: String address1: String address2: String
  city: String provinceCode: String zip: String countryCodeV2: String phone: String
}
enum DisputeType { CHARGEBACK INQUIRY }
enum DisputeStatus { NEEDS_RESPONSE UNDER_REVIEW CHARGE_REFUNDED ACCEPTED WON LOST PREVENTED }
type OrderDisputeSummary { id: ID! initiatedAs: DisputeType! status: DisputeStatus! }

enum WebhookSubscriptionTopic {
  ORDERS_CREATE ORDERS_UPDATED ORDERS_PAID ORDERS_CANCELLED ORDERS_FULFILLED ORDERS_PARTIALLY_FULFILLED
  ORDERS_EDITED ORDERS_DELETE APP_UNINSTALLED APP_SCOPES_UPDATE FULFILLMENTS_CREATE FULFILLMENTS_UPDATE
  FULFILLMENT_EVENTS_CREATE REFUNDS_CREATE DISPUTES_CREATE DISPUTES_UPDATE PRODUCTS_CREATE PRODUCTS_UPDATE
  PRODUCTS_DELETE INVENTORY_LEVELS_UPDATE INVENTORY_ITEMS_UPDATE SHOP_UPDATE RETURNS_REQUEST RETURNS_APPROVE
  RETURNS_CLOSE ORDER_TRANSACTIONS_CREATE CUSTOMERS_DATA_REQUEST CUSTOMERS_REDACT SHOP_REDACT
}
enum WebhookSubscriptionFormat { JSON XML }
type WebhookSubscription { id: ID! topic: WebhookSubscriptionTopic! uri: String! callbackUrl: URL! format: WebhookSubscriptionFormat! createdAt: DateTime! }
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection { nodes: [WebhookSubscription!]! edges: [WebhookSubscriptionEdge!]! pageInfo: PageInfo! }
input WebhookSubscriptionInput { uri: String callbackUrl: URL format: WebhookSubscriptionFormat includeFields: [String!] filter: String }
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionDeletePayload { deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }

type LineItem {
  id: ID!
  name: String!
  title: String!
  sku: String
  variantTitle: String
  quantity: Int!
  currentQuantity: Int!
  unfulfilledQuantity: Int!
  originalUnitPriceSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { nodes: [LineItem!]! edges: [LineItemEdge!]! pageInfo: PageInfo! }

type FulfillmentOrder {
  id: ID!
  status: FulfillmentOrderStatus!
  requestStatus: FulfillmentOrderRequestStatus!
  createdAt: DateTime!
  updatedAt: DateTime!
  orderId: ID!
  orderName: String!
  order: Order!
  lineItems(first: Int, last: Int, after: String, before: String, reverse: Boolean): FulfillmentOrderLineItemConnection!
}
type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! edges: [FulfillmentOrderEdge!]! pageInfo: PageInfo! }

type FulfillmentOrderLineItem {
  id: ID!
  remainingQuantity: Int!
  totalQuantity: Int!
  sku: String
  productTitle: String!
  variantTitle: String
  lineItem: LineItem!
}
type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
type FulfillmentOrderLineItemConnection { nodes: [FulfillmentOrderLineItem!]! edges: [FulfillmentOrderLineItemEdge!]! pageInfo: PageInfo! }

type Fulfillment {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  status: FulfillmentStatus!
  displayStatus: FulfillmentDisplayStatus
  createdAt: DateTime!
  updatedAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  events(first: Int, last: Int, after: String, before: String, reverse: Boolean): FulfillmentEventConnection!
  order: Order!
}
type FulfillmentEvent {
  id: ID!
  status: FulfillmentEventStatus!
  happenedAt: DateTime!
  createdAt: DateTime!
  message: String
  estimatedDeliveryAt: DateTime
  city: String
  province: String
  country: String
  zip: String
  address1: String
}
type FulfillmentEventEdge { cursor: String! node: FulfillmentEvent! }
type FulfillmentEventConnection { nodes: [FulfillmentEvent!]! edges: [FulfillmentEventEdge!]! pageInfo: PageInfo! }
type FulfillmentTrackingInfo { company: String number: String url: URL }

type UserError { field: [String!] message: String! }
type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }
type FulfillmentTrackingInfoUpdatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }
type FulfillmentEventCreatePayload { fulfillmentEvent: FulfillmentEvent userErrors: [UserError!]! }

input FulfillmentInput {
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  notifyCustomer: Boolean = false
  trackingInfo: FulfillmentTrackingInput
  originAddress: FulfillmentOriginAddressInput
}
input FulfillmentOrderLineItemsInput { fulfillmentOrderId: ID! fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!] }
input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
input FulfillmentTrackingInput { company: String number: String url: URL numbers: [String!] urls: [URL!] }
input FulfillmentOriginAddressInput { address1: String address2: String city: String countryCode: String! provinceCode: String zip: String }
input FulfillmentEventInput {
  fulfillmentId: ID!
  status: FulfillmentEventStatus!
  happenedAt: DateTime
  message: String
  estimatedDeliveryAt: DateTime
  city: String
  province: String
  country: String
  zip: String
  address1: String
  latitude: Float
  longitude: Float
}
"""
