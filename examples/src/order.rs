//! `order` and `inventory`: a workflow across actors. An order reserves stock in the
//! `inventory` actor of its item, waits for a `pay` message or for its payment window to close
//! (a race between a queue wait and a durable sleep), then charges, or releases the stock.
//! Every step is recorded, so a crash or a sleep resumes where it stopped; the inventory's
//! actions are idempotent by order id, because a step may run again if the process dies
//! before its record commits.

use std::collections::BTreeMap;
use std::time::Duration;

use rivet_core::prelude::*;
use rivet_core::run::{Next, RunCx};
use rivet_core::workflow::{Branch, WorkflowHistory};

/// The stock of one item, with the reservations held against it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Inventory {
    stock: u64,
    /// Reserved quantity by order id.
    reserved: BTreeMap<String, u64>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self {
            stock: 10,
            reserved: BTreeMap::new(),
        }
    }
}

#[actor(name = "inventory", icon = "boxes-stacked")]
impl Inventory {
    /// Reserves `quantity` for `order`; reserving again for the same order changes nothing.
    /// Fails with `out_of_stock` when too little is left.
    #[action]
    pub fn reserve(&mut self, order: String, quantity: u64) -> Result<u64, UserError> {
        if self.reserved.contains_key(&order) {
            return Ok(self.stock);
        }
        if self.stock < quantity {
            return Err(UserError::new(
                "out_of_stock",
                format!("Only {} left.", self.stock),
            ));
        }
        self.stock -= quantity;
        self.reserved.insert(order, quantity);
        Ok(self.stock)
    }

    /// Gives back what `order` reserved (nothing if it holds nothing).
    #[action]
    pub fn release(&mut self, order: String) -> u64 {
        if let Some(quantity) = self.reserved.remove(&order) {
            self.stock += quantity;
        }
        self.stock
    }

    /// Units not reserved.
    #[action]
    pub fn get_stock(&self) -> u64 {
        self.stock
    }
}

/// The `place` message: what to buy, and how long to wait for payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    /// The item; its inventory actor has this key.
    pub item: String,
    /// How many.
    pub quantity: u64,
    /// The price of one, in cents.
    pub unit_cents: u64,
    /// How long the order waits for `pay` before it releases the stock.
    pub payment_window_ms: u64,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Not placed yet.
    #[default]
    New,
    /// Stock reserved; waiting for payment.
    Reserved,
    /// Paid and charged.
    Charged,
    /// Not enough stock.
    Rejected,
    /// The payment window closed; the stock went back.
    Expired,
}

/// What the sender of `place` gets back once the order is settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// How the order ended.
    pub status: OrderStatus,
    /// What was charged, in cents.
    pub charged_cents: u64,
}

/// An order's persisted state.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    status: OrderStatus,
    charged_cents: u64,
}

#[actor(name = "order", icon = "cart-shopping")]
impl Order {
    /// Places the order; a waiting sender gets the [`Receipt`] once it is settled.
    #[queue]
    pub fn place(order: PlaceOrder) -> Receipt;

    /// Pays for the order.
    #[queue]
    pub fn pay(payment: u64);

    /// The order's workflow.
    #[run]
    pub async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        // The order's id keys its reservation, so a repeated step reserves once.
        let order_id = cx.actor_id().to_owned();
        cx.workflow(async move |wf| {
            let placed = wf
                .queue()
                .next("placed", Next::new().names(["place"]))
                .await?
                .ok_or_else(|| Error::internal("no order"))?;
            let order: PlaceOrder = placed.decode()?;

            let (id, item, quantity) = (order_id.clone(), order.item.clone(), order.quantity);
            let reserved = wf
                .step("reserve", async move |s| {
                    let inventory = s.client().get_or_create::<Inventory>([item.as_str()]);
                    match inventory.reserve(id.clone(), quantity).await {
                        Ok(_) => Ok(true),
                        Err(error) if error.code == "out_of_stock" => Ok(false),
                        Err(error) => Err(Error::public(error)),
                    }
                })
                .await?;
            if !reserved {
                return settle(&wf, &placed, OrderStatus::Rejected, 0).await;
            }
            wf.step("mark-reserved", async move |s| {
                s.update(|state: &mut Order, _| {
                    state.status = OrderStatus::Reserved;
                    Ok(())
                });
                Ok(())
            })
            .await?;

            let window = Duration::from_millis(order.payment_window_ms);
            let (outcome, ()) = wf
                .race(
                    "await-payment",
                    vec![
                        Branch::new("paid", |wf| async move {
                            let pay = Next::new().names(["pay"]);
                            wf.queue().next("payment", pay).await.map(|_| ())
                        }),
                        Branch::new("expired", move |wf| async move {
                            wf.sleep("payment-window", window).await
                        }),
                    ],
                )
                .await?;
            if outcome == "paid" {
                let charged = order.quantity * order.unit_cents;
                settle(&wf, &placed, OrderStatus::Charged, charged).await
            } else {
                let (id, item) = (order_id.clone(), order.item.clone());
                wf.step("release", async move |s| {
                    let inventory = s.client().get_or_create::<Inventory>([item.as_str()]);
                    inventory.release(id.clone()).await?;
                    Ok(())
                })
                .await?;
                settle(&wf, &placed, OrderStatus::Expired, 0).await
            }
        })
        .await
    }

    /// Where the order stands.
    #[action]
    pub fn get_status(&self) -> OrderStatus {
        self.status
    }

    /// What was charged, in cents.
    #[action]
    pub fn get_charged(&self) -> u64 {
        self.charged_cents
    }

    /// The workflow's history.
    #[action]
    pub fn history(&self, cx: &mut Cx<Self>) -> Option<WorkflowHistory> {
        cx.workflow_history()
    }
}

/// The last step: the order's final status, and the receipt for the sender of `place`.
async fn settle(
    wf: &rivet_core::workflow::Workflow<Order>,
    placed: &rivet_core::workflow::WorkflowMessage,
    status: OrderStatus,
    charged_cents: u64,
) -> Result<(), Error> {
    let placed = placed.clone();
    wf.step("settle", async move |s| {
        s.update(move |state: &mut Order, _| {
            state.status = status;
            state.charged_cents = charged_cents;
            Ok(())
        });
        s.complete(
            &placed,
            &Receipt {
                status,
                charged_cents,
            },
        )
    })
    .await
}
